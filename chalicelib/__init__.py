"""Taskport: one task engine behind four API surfaces."""
