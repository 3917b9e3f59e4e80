"""Municipalities (by NIS code), regions and the counters (lokalen loketten) that serve them."""

from __future__ import annotations

from tortoise import fields
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


class PostalCode(Model):
    """A postal code (bpost) within a municipality, with its approximate centre (for the
    distance search). An address's postal code must be one of its municipality's."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=4, db_index=True)
    municipality: fields.ForeignKeyRelation[Municipality] = fields.ForeignKeyField(
        "models.Municipality", related_name="codes", on_delete=fields.CASCADE
    )
    place_name = fields.CharField(max_length=120, default="")
    latitude = fields.FloatField(null=True)
    longitude = fields.FloatField(null=True)

    class Meta:
        table = "postal_code"
        unique_together = (("code", "municipality"),)
