"""The demo: generated book images, seeded accounts, audiences and jobs, and a
crowd of simulated labelers working over HTTP."""
