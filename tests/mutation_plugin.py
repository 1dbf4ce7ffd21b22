"""pytest plugin loaded by `make mutate` only (`-p tests.mutation_plugin`).

Every mutant runs the same tests again, so Hypothesis must give the same answer
each time: derandomized examples, no example database carried between runs
(a failure found for one mutant would otherwise be replayed against the next),
no deadline (the machine is shared and a slow run is not a failure), a
smaller default number of examples (tests that set their own keep it), and no
shrinking or explaining of a failure: for a mutant only "it fails" matters, and
shrinking is most of the time a killed mutant costs.
"""

from hypothesis import Phase, settings

settings.register_profile(
    "mutation", derandomize=True, database=None, deadline=None, max_examples=50,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
settings.load_profile("mutation")
