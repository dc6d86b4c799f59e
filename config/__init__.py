"""The CrowdCanvas project: settings, URLs, the ASGI and Celery applications."""

import os

# One BLAS thread per process: aggregation's matrix products are small, and
# the server and worker processes are the parallelism. Threads fighting over
# two cores made them three times slower. Read when numpy loads, so this must
# come first (every entry point imports this package before numpy).
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

from .celery import app as celery_app  # noqa: E402

__all__ = ["celery_app"]
