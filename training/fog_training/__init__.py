"""Offline training for the FoG stack (bags -> dataset -> world models -> policy -> artifact)."""
