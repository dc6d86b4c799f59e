"""Roles every app refers to by name."""

# Members of this group are requesters (staff users scoped to what they own).
REQUESTERS_GROUP = "Requesters"
