"""Render backends behind one protocol, and the mask→box code every backend shares."""
