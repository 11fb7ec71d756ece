"""Host discovery in front of the TLS sweep: find the live hosts first, connect only to them.

plan.py     which method reaches each target, from the routing table (pure)
pacer.py    the one packets-per-second cap every method shares
arp.py      ARP sweep on a raw layer-2 socket, for on-link IPv4 targets (needs CAP_NET_RAW)
syn.py      stateless SYN discovery, for routed IPv4 targets (needs CAP_NET_RAW)
connect.py  host-aware connect discovery: the unprivileged fallback
stage.py    the stage itself: plan, run the methods together, hand the sweep what answered
"""
