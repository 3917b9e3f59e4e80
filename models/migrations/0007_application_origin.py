"""Whether an application was made by a provider's offer to an emergency-list request
(it then counts neither toward the family's maximum nor among its preferred providers)."""

from tortoise import fields, migrations

from models.migration_ops import AddFilledField


class Migration(migrations.Migration):
    dependencies = [("models", "0006_integrators")]

    initial = False

    operations = [
        AddFilledField(
            model_name="Application",
            name="by_emergency_offer",
            field=fields.BooleanField(default=False),
            fill="false",
        ),
    ]
