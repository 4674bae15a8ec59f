"""The work queue's counts on the admin index (templates/admin/index.html), for those who may see the queue."""

from django import template

from monitor.verdicts import queue

register = template.Library()


@register.simple_tag(takes_context=True)
def work_queue(context):
    """The Queue for an analyst, None for anyone else (a Monitor's index shows no queue)."""
    request = context.get("request")
    if request is None or not queue.may_see(request.user):
        return None
    return queue.build()
