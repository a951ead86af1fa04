"""SQL tables of promotion: policies, gate runs (promotions), transition requests and rollouts.

``promotion_policies`` keeps one policy (JSON) per registered model and target alias;
``promotions`` one row per run of a policy's gates on a version, with every check's result and
evidence; ``transition_requests`` the requests to move an alias to a version, and
``transition_request_events`` who requested, commented, approved, rejected or cancelled, when;
``rollouts`` the serving rollout of a model's alias (stable and candidate versions, mode,
candidate share, state) that every serve process follows. Migration ``0019`` creates exactly these.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, Integer, PrimaryKeyConstraint, String, Table, Text

from .schema import MODEL_KEY_LENGTH, metadata

__all__ = ["promotion_policies", "promotions", "rollouts", "transition_request_events", "transition_requests"]

promotion_policies = Table(
    "promotion_policies",
    metadata,
    Column("model_name", String(MODEL_KEY_LENGTH), nullable=False),
    Column("alias", String(256), nullable=False),
    Column("spec", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Column("updated_by", String(256)),
    PrimaryKeyConstraint("model_name", "alias", name="pk_promotion_policies"),
)

promotions = Table(
    "promotions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_name", String(MODEL_KEY_LENGTH), nullable=False),
    Column("version", Integer, nullable=False),
    Column("alias", String(256), nullable=False),
    Column("status", String(16), nullable=False),  # passed, failed
    Column("champion_version", Integer),
    Column("checks", Text, nullable=False),  # [{name, check, passed, message, evidence}]
    Column("policy", Text, nullable=False),  # the policy as it was run
    Column("request_id", Integer),
    Column("user_id", String(256)),
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_promotions_version", "model_name", "version", "id"),
)

transition_requests = Table(
    "transition_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_name", String(MODEL_KEY_LENGTH), nullable=False),
    Column("version", Integer, nullable=False),
    Column("alias", String(256), nullable=False),
    Column("status", String(16), nullable=False),  # open, approved, rejected, cancelled, promoted
    Column("requested_by", String(256)),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Index("ix_transition_requests_model", "model_name", "status"),
)

transition_request_events = Table(
    "transition_request_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", Integer, nullable=False),
    Column("action", String(16), nullable=False),  # request, comment, approve, reject, cancel, promote
    Column("user_id", String(256)),
    Column("comment", Text),
    Column("timestamp", BigInteger, nullable=False),
    Index("ix_transition_request_events_request", "request_id", "id"),
)

rollouts = Table(
    "rollouts",
    metadata,
    Column("model_name", String(MODEL_KEY_LENGTH), nullable=False),
    Column("alias", String(256), nullable=False),
    Column("stable_version", String(64), nullable=False),
    Column("candidate_version", String(64), nullable=False),
    Column("mode", String(16), nullable=False),  # shadow, canary, all
    Column("weight", Float, nullable=False),  # the candidate's share of traffic in canary mode
    Column("state", String(16), nullable=False),  # running, completed, rolled_back
    Column("spec", Text, nullable=False),  # the advance/rollback rule (JSON)
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Column("updated_by", String(256)),
    PrimaryKeyConstraint("model_name", "alias", name="pk_rollouts"),
)
