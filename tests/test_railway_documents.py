"""Every GraphQL document the client can send is valid against Railway's real schema."""

from __future__ import annotations

from functools import lru_cache

import graphql
import pytest

from bot.railway.documents import ALL_DOCUMENTS, MUTATIONS
from sandbox.emulators.railway import MIN_SCHEMA_PATH
from tests.shared import shared_path


@lru_cache(maxsize=1)
def _build(path: str) -> graphql.GraphQLSchema:
    # assume_valid: graphql-core 3.3 rejects Railway's schema otherwise (Team.id deprecation quirk).
    with open(path, encoding="utf-8") as fh:
        return graphql.build_schema(fh.read(), assume_valid=True)


@pytest.fixture
def real_schema() -> graphql.GraphQLSchema:
    return _build(str(shared_path("railway/schema.graphql")))


@pytest.fixture
def min_schema() -> graphql.GraphQLSchema:
    return _build(str(MIN_SCHEMA_PATH))


def _errors(schema: graphql.GraphQLSchema, document: str) -> list[str]:
    return [e.message for e in graphql.validate(schema, graphql.parse(document))]


@pytest.mark.shared
@pytest.mark.parametrize("name", sorted(ALL_DOCUMENTS))
def test_document_is_valid_against_railways_schema(real_schema, name):
    assert _errors(real_schema, ALL_DOCUMENTS[name]) == []


@pytest.mark.parametrize("name", sorted(ALL_DOCUMENTS))
def test_document_is_valid_against_the_emulators_fallback_schema(min_schema, name):
    assert _errors(min_schema, ALL_DOCUMENTS[name]) == []


@pytest.mark.parametrize("name", sorted(ALL_DOCUMENTS))
def test_each_document_holds_one_operation_named_as_its_key(name):
    ops = [d for d in graphql.parse(ALL_DOCUMENTS[name]).definitions if isinstance(d, graphql.OperationDefinitionNode)]
    assert len(ops) == 1
    assert ops[0].name and ops[0].name.value == name
    assert (ops[0].operation == graphql.OperationType.MUTATION) == (name in MUTATIONS)


@pytest.mark.shared
def test_validation_can_fail_the_docs_rollback_with_a_selection_is_invalid(real_schema):
    # Railway's docs select { id status } on deploymentRollback, which returns Boolean!.
    errors = _errors(real_schema, 'mutation { deploymentRollback(id: "d") { id status } }')
    assert errors and "must not have a selection" in errors[0]
    # ...and the docs' "latest active deployment" filter does not exist in DeploymentStatusInput.
    errors = _errors(real_schema, '{ deployments(input: {status: {successfulOnly: true}}) { edges { cursor } } }')
    assert errors and "successfulOnly" in errors[0]


@pytest.mark.shared
def test_fallback_schema_is_a_faithful_subset_of_railways(real_schema, min_schema):
    """Same fields, arguments and types as Railway's schema, so the fallback cannot drift."""
    for name, mine in min_schema.type_map.items():
        if name.startswith("__"):
            continue
        theirs = real_schema.type_map.get(name)
        assert theirs is not None, name
        assert type(theirs) is type(mine), name
        if isinstance(mine, graphql.GraphQLEnumType):
            assert set(mine.values) == set(theirs.values), name
        if isinstance(mine, graphql.GraphQLObjectType | graphql.GraphQLInputObjectType):
            for field_name, field in mine.fields.items():
                assert field_name in theirs.fields, f"{name}.{field_name}"
                assert str(field.type) == str(theirs.fields[field_name].type), f"{name}.{field_name}"
                for arg, spec in getattr(field, "args", {}).items():
                    assert str(spec.type) == str(theirs.fields[field_name].args[arg].type), f"{name}.{field_name}"
