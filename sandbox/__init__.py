"""The sandbox: emulators of Slack, Railway and the target backend, their world files, the runner that
starts the real bot on loopback, and the scripted demo (``chatops demo``). Tests, benchmarks and the
demo use it; the production packages (``bot``, ``handlers``, ``playbooks``) never import it.
"""
