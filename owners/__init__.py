"""The routine owners' loop: the routine inventory, uploads (add, replace, retire) and review dates, what the
routines lack (knowledge gaps) and the public transparency record, as pure logic plus the `assist docs`, `assist gaps`
and `assist transparency` commands; serving/ mounts the owners' pages over it.
"""
