"""What a test or CI run touches: the ``lynsms`` CLI, the pytest plugin, server threads, the client
handle on a running simulator, the gateway host and the scenario replay runner. The simulator core
never imports this package."""
