"""Alerts: terminal escape sequences, notify-send, webhooks and a command hook, behind one dispatcher.

Use :func:`rankinv.daemon.notify.dispatch.build_dispatcher` with the ``[notify]`` config, then
``dispatcher.send(Event(...))``; each channel reports its own outcome and none can crash the caller.
"""
