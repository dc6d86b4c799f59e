"""Limits the server enforces, mirrored here so that bad input fails with a
``ValueError`` before any request is sent.

Copied from the server; ``tests/test_client.py`` asserts that they still match:

- ``assets/wire.py``: text lengths, URLs, boxes;
- ``jobs/services.py``: datapoints per definition, responses per datapoint;
- ``audiences/services.py``: ``MAX_TASKS_LIMIT``; gold rate at most 0.5;
- ``core/api_common.py``: page size;
- ``assets/fetches.py``: URLs per fetch request.
"""

MAX_NAME_LENGTH = 200
MAX_INSTRUCTION_LENGTH = 250
MAX_CONTEXT_LENGTH = 2000
MAX_TEXT_ITEM_LENGTH = 5000
MAX_URL_LENGTH = 2048
MAX_EXPLANATION_LENGTH = 2000
MAX_BOXES = 50

MAX_DATAPOINTS = 100_000
MAX_RESPONSES_PER_DATAPOINT = 1000

MAX_TASKS_LIMIT = 1000
MAX_GOLD_RATE = 0.5

MAX_PAGE_SIZE = 100

MAX_FETCH_URLS = 1000
