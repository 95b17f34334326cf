"""Operations tooling: programs an operator (or ``make up``'s Procfile, or a test session) runs to manage the
processes Raylane needs on this machine, from outside both the control plane and the data plane.

``operations.ray_head`` starts, stops and inspects the local Ray head (``python -m operations.ray_head
run|start|stop|status|wait``). Nothing in ``serving`` or ``controlplane`` imports this package (import-linter
contract ``operations-apart``); what a client needs to know about the head lives in ``serving.head``.
"""
