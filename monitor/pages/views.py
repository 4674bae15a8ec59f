from django.shortcuts import render


def home(request):
    """A placeholder front page until the public status pages land: it points to the admin."""
    return render(request, "home.html")
