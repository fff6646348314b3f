"""Benchmarks: what ``perception benchmark`` times (runners, FLOPs, the matmul peak) and the suite that
writes docs/benchmarks.md. Sits above ``perception.deploy`` (the suite exports the graphs it times) and
``perception.apis``; models are built inside the functions that need them, so importing this package
loads torch but not the OpenMMLab training stack.
"""
