"""The routine owners' loop: the inventory of routines, uploads (add, replace, retire) and review dates; pure logic
plus the `assist docs` command. serving/ mounts the owners' page over it.
"""
