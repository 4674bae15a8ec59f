"""Webhooks (monitor.alerts.webhooks): a Webhook model, its deliveries in the outbox, their HTTP status.

An outbox row now goes to an address or to a webhook (exactly one: alert_email_or_webhook); every
row already there has an address and no webhook.
"""

import django.db.models.deletion
import django.utils.timezone
import monitor.alerts.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('alerts', '0004_alert_keys_by_status_change'),
        ('terms', '0003_escalation'),
        ('verdicts', '0004_records_kept_withdraw_protect'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='deliveryattempt',
            name='http_status',
            field=models.PositiveSmallIntegerField(blank=True, null=True, verbose_name='HTTP status'),
        ),
        migrations.AlterField(
            model_name='alert',
            name='event',
            field=models.CharField(choices=[('missed', 'Deadline missed'), ('breached', 'Breached'), ('disputed', 'Disputed'), ('met_late', 'Met late'), ('breach_over', 'Breach over'), ('reminder', 'Reminder'), ('digest', 'Daily digest'), ('summary', 'Summary of past transitions'), ('correction', 'Correction'), ('confirm', 'Confirm a subscription'), ('escalation', 'Escalated to the Analysts'), ('webhook_paused', 'Webhook paused')], max_length=20, verbose_name='event'),
        ),
        migrations.AlterField(
            model_name='alert',
            name='to_email',
            field=models.EmailField(blank=True, max_length=254, verbose_name='to'),
        ),
        migrations.CreateModel(
            name='Webhook',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('url', models.CharField(help_text='http or https, on a public address. Each delivery is a signed JSON POST.', max_length=2000, verbose_name='URL')),
                ('secret', models.CharField(default=monitor.alerts.models.new_webhook_secret, editable=False, max_length=100, verbose_name='signing secret')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='created at')),
                ('failing_since', models.DateTimeField(blank=True, editable=False, null=True, verbose_name='failing since')),
                ('paused_at', models.DateTimeField(blank=True, editable=False, null=True, verbose_name='paused at')),
                ('paused_reason', models.CharField(blank=True, editable=False, max_length=300, verbose_name='why paused')),
                ('agreement', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='webhooks', to='terms.agreement', verbose_name='agreement')),
                ('commitment', models.ForeignKey(blank=True, help_text='Empty: every commitment of the agreement.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='webhooks', to='terms.commitment', verbose_name='commitment')),
                ('owner', models.ForeignKey(blank=True, editable=False, help_text='Who registered it; told by email when it is paused.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='webhooks', to=settings.AUTH_USER_MODEL, verbose_name='owner')),
            ],
            options={
                'verbose_name': 'webhook',
                'verbose_name_plural': 'webhooks',
                'ordering': ('agreement', 'id'),
            },
        ),
        migrations.AddField(
            model_name='alert',
            name='webhook',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='alerts.webhook', verbose_name='webhook'),
        ),
        migrations.AddConstraint(
            model_name='alert',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(models.Q(('to_email', ''), _negated=True), ('webhook__isnull', True)), models.Q(('to_email', ''), ('webhook__isnull', False)), _connector='OR'), name='alert_email_or_webhook'),
        ),
    ]
