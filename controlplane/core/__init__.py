"""What every app may use and that uses no app: domain errors and the push helper.

Nothing here imports an app (an import-linter contract in `make test` checks it), so any app can import it
without creating a cycle."""
