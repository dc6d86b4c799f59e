"""CrowdCanvas: the requester-side Python client.

Build audiences of labelers, gate custom ones with qualification examples,
run draw and compare jobs and collect their results on a self-hosted
CrowdCanvas server::

    from crowdcanvas import CrowdCanvasClient, Box

    client = CrowdCanvasClient()  # CROWDCANVAS_URL and CROWDCANVAS_TOKEN
    audience = client.audience.create_audience(name="Artifact Drawing Audience")
    audience.add_draw_example(
        instruction="Color in the visual glitches or errors in the image.",
        datapoint="https://assets.example.org/glitch.webp",
        truths=[Box(x_min=0.44, y_min=0.42, x_max=0.58, y_max=0.63)],
    )
    definition = client.job.create_draw_job_definition(
        name="Artifact Drawing Example",
        instruction="Color in the visual glitches or errors in the image.",
        datapoints=["https://assets.example.org/image.jpg", "local/picture.png"],
        responses_per_datapoint=35,
    )
    definition.preview()
    job = audience.assign_job(definition)
    job.display_progress_bar()      # live over the job's websocket, else polling
    results = job.get_results()     # aggregated, per datapoint; results.to_pandas()
    job.download_results("out/", format="coco")

Needs only ``httpx`` and ``tqdm``; ``pandas`` for ``Results.to_pandas``
(``crowdcanvas[pandas]``) and ``websockets`` for live progress bars
(``crowdcanvas[live]``).
"""

__version__ = "0.1.0"

from ._validation import File, Text  # noqa: E402
from .audience import Audience, AudienceManager  # noqa: E402
from .box import Box  # noqa: E402
from .client import CrowdCanvasClient  # noqa: E402
from .exceptions import (  # noqa: E402
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConnectionFailed,
    CrowdCanvasError,
    JobFailed,
    JobStalled,
    JobTimeout,
    NotFoundError,
    ServerError,
)
from .job import Job, JobDefinition, JobManager  # noqa: E402
from .results import Results  # noqa: E402

__all__ = [
    "ApiError",
    "Audience",
    "AudienceManager",
    "AuthenticationError",
    "BadRequestError",
    "Box",
    "ConflictError",
    "ConnectionFailed",
    "CrowdCanvasClient",
    "CrowdCanvasError",
    "File",
    "Job",
    "JobDefinition",
    "JobFailed",
    "JobManager",
    "JobStalled",
    "JobTimeout",
    "NotFoundError",
    "Results",
    "ServerError",
    "Text",
    "__version__",
]
