"""What a finished run shows: its report over seeds (:mod:`.report`, ``csptrain report``), the
report's picture (:mod:`.figure`) and predictions beside the truth (:mod:`.preview`)."""
