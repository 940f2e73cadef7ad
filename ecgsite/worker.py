"""The worker command line that the test suite and the benches start beside the app.

One task at a time (``--pool=solo``: a test or a bench can kill the process that holds a task) and
no chatter between workers; production runs ``celery -A ecgsite worker`` with its own options.
"""

SOLO_WORKER_ARGS = ["-A", "ecgsite", "worker", "--pool=solo", "--loglevel=INFO", "--without-mingle", "--without-gossip"]
