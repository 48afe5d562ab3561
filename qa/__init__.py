"""QA surface of Frontline Assist: `assist eval` runs, the RAGAS judge, the run store, reports and the quality gate."""

import os

# RAGAS reports usage to its makers unless told not to; an evaluation of the city's questions sends nothing out.
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
