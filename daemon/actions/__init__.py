"""Acting on KILL verdicts: find the job, check it is ours, escalate safely, leave an audit line.

The daemon's whole interface is :class:`rankinv.daemon.actions.escalate.Escalator`: ``request(KillRequest)``
when a KILL verdict is issued, ``tick()`` on every loop iteration.
"""
