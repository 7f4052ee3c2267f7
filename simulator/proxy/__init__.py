"""The HTTP(S) proxy beside the simulator: any process, in any language, reaches the simulator at the
providers' real hosts by setting ``HTTPS_PROXY`` and trusting the installation's CA.

- ``ca``: the certificate authority generated once per installation, and the leaf certificates it issues;
- ``protocol``: the proxy's connection handling (CONNECT, TLS, plain-HTTP proxying, refusals);
- ``app``: the ASGI app behind it: the simulator for provider hosts, a 502 for anything else.
"""
