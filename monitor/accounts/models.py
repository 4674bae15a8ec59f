"""No models: the roles are groups of auth's permissions (roles.py).

This module exists so that Django sends this app `post_migrate` (it skips apps without a models
module), which is when apps.py resets the roles to their definitions after every `migrate`, so a
permission added later (say, evidence.backdate_report) reaches its roles on existing databases too.
"""
