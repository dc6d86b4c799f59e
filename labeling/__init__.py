"""The labeler workspace: pages, the labeler API, live updates, and accounts
(requesters, labelers, API tokens)."""
