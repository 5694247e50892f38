"""Shared machinery every part of the hub uses: tasks, back-off, atomic files, logs."""
