"""What audiences tell the apps above them, which they do not import."""

from django.dispatch import Signal

# A labeler was dropped from an audience by an operator, inside the
# transaction that drops them (keyword ``membership``). The task feed ends
# their live tasks in the audience's jobs (``jobs.feed.membership``).
membership_dropped = Signal()
