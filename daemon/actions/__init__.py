"""Acting on KILL verdicts: find the job, check it is ours, escalate safely, leave an audit line.

The daemon's whole interface: ``escalator = service.build_escalator(root, config, store, dispatcher)``, then
``escalator.request(KillRequest(run, run_dir, verdict_id, step, reason))`` for a KILL verdict (idempotent per
run and verdict) and ``escalator.tick()`` on every loop iteration.
"""
