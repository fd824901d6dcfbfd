"""The table layouts, in one place: the local stack creates them, infra/ must define the same."""
from __future__ import annotations

from typing import Any

RUN_LISTING: dict[str, Any] = {"projection": "INCLUDE", "attributes": ["kind", "status"]}
# Every table has string keys pk (hash) and sk (range); items of several kinds share a table,
# told apart by key prefixes (see each models module). Indexes are added here and in infra/.
TABLES: dict[str, dict[str, Any]] = {
    "accounts_table": {"indexes": {}},
    "entities_table": {"indexes": {}},
    "tasks_table": {"indexes": {
        # see chalicelib/models/tasks.py: tasks of a group by status, and open tasks by lease expiry
        "by_group": {"hash": "group_pk", "range": "group_sk"},
        "by_lease": {"hash": "lease_pk", "range": "lease_sk", "projection": "KEYS_ONLY"},
        # Taskport's own API: an account's tasks, newest first
        "by_account": {"hash": "account_id", "range": "created_at"},
    }},
    "runs_table": {"indexes": {
        # see chalicelib/models/runs.py: an account's runs, a subject's, a task's; newest first,
        # each with the keys and what a listing filters on (runs.LISTED), not the whole run
        "by_account": {"hash": "account_id", "range": "run_id", **RUN_LISTING},
        "by_subject": {"hash": "subject_pk", "range": "run_id", **RUN_LISTING},
        "by_task": {"hash": "task_pk", "range": "run_id", **RUN_LISTING},
    }},
}
TTL_ATTRIBUTE = "expires_at"


def table_definition(name: str, indexes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """CreateTable arguments for one table: on-demand, pk/sk, and KEYS_ONLY/INCLUDE/ALL indexes."""
    attributes = {"pk": "S", "sk": "S"}
    gsis = []
    for index_name, spec in indexes.items():
        attributes[spec["hash"]] = "S"
        schema = [{"AttributeName": spec["hash"], "KeyType": "HASH"}]
        if spec.get("range"):
            attributes[spec["range"]] = "S"
            schema.append({"AttributeName": spec["range"], "KeyType": "RANGE"})
        projection: dict[str, Any] = {"ProjectionType": spec.get("projection", "ALL")}
        if spec.get("attributes"):
            projection["NonKeyAttributes"] = list(spec["attributes"])
        gsis.append({"IndexName": index_name, "KeySchema": schema, "Projection": projection})
    definition: dict[str, Any] = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                      {"AttributeName": "sk", "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": k, "AttributeType": t} for k, t in attributes.items()],
    }
    if gsis:
        definition["GlobalSecondaryIndexes"] = gsis
    return definition
