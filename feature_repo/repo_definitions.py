"""What `feast apply` reads in this folder (every other module is listed in .feastignore).

Feast imports each file of the repository as a top-level module; the definitions live in the
`feature_repo` package so training, streaming and serving import the very same objects.
"""

from feature_repo.definitions import definitions

_repo = definitions("data")

user = _repo.user
user_profile_snapshots = _repo.profile_source
user_activity_push = _repo.activity_push
user_profile = _repo.profile
user_activity = _repo.activity
fraud_model = _repo.service
