"""rankinv.daemon: the headless service that watches a runs root, triages, decides and acts.

Installed as ``rankinv.daemon`` (setuptools package-dir). It never imports Textual or rankinv.tui.
"""
