"""QA surface of Frontline Assist: `assist eval` runs, the RAGAS judge, the run store, reports and the quality gate."""
