"""wirewatch's test kit: what the test suites, the fault drill and the benchmarks share.

A dev dependency of the workspace only; no service depends on it and no image installs it.
`wirewatch models test-packages` is an operator command, so its packages stay in wirewatch_translate.
"""
