"""Municipalities (by NIS code), regions and the counters (lokalen loketten) that serve them."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.contrib.postgres.fields import ArrayField
from tortoise.models import Model


class Region(Model):
    """A group of municipalities, e.g. the Leuven region of Interleuven."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=120, unique=True)

    class Meta:
        table = "region"


class Municipality(Model):
    """A Belgian municipality identified by its NIS (REFNIS) code."""

    nis_code = fields.CharField(max_length=5, primary_key=True)
    name = fields.CharField(max_length=120)
    # Postal codes within the municipality; an address must use one of them.
    postal_codes: Any = ArrayField(element_type="text", default=list)
    region: fields.ForeignKeyNullableRelation[Region] = fields.ForeignKeyField(
        "models.Region", related_name="municipalities", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "municipality"


class Counter(Model):
    """A local counter (lokaal loket kinderopvang); its area is a set of municipalities."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=160, unique=True)
    municipalities: fields.ManyToManyRelation[Municipality] = fields.ManyToManyField(
        "models.Municipality",
        related_name="counters",
        through="counter_municipality",
        forward_key="municipality_id",
        backward_key="counter_id",
    )

    class Meta:
        table = "counter"
