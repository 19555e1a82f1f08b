"""Where rankinv starts its own Python children (``python -m rankinv …``): from ``/``, never the caller's folder.

``python -m`` puts the current directory first on ``sys.path``, so a folder named ``rankinv`` there (a clone of
this repository in ``$HOME``, say) would be imported instead of the installed package and the child would die
with an ImportError. Every path handed to such a child is made absolute first. A Slurm triage job starts in the
folder ``sbatch`` ran from, so ``sbatch`` runs from here too.
"""

CHILD_CWD = "/"
