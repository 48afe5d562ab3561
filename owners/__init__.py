"""The routine owners' loop: the routine inventory, uploads (add, replace, retire) and review dates, as pure logic
plus the `assist docs` command; serving/ mounts the owners' page over it.
"""
