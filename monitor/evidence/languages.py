"""The name of a report's original language, from its BCP 47 tag, for "Machine-translated from Pashto".

Django knows the names of the languages it is translated into; the languages of the conflicts this
monitor follows (Pashto, Dari, Uzbek…) are mostly not among them, so those are named here. A tag with a
script or region ("fa-AF") is named by its language; a language named nowhere is shown by its tag.
"""

from django.conf.locale import LANG_INFO
from django.utils.translation import gettext_lazy as _

NAMES = {
    "ps": _("Pashto"),
    "prs": _("Dari"),
    "fa": _("Persian"),
    "ar": _("Arabic"),
    "ur": _("Urdu"),
    "uz": _("Uzbek"),
    "tk": _("Turkmen"),
    "tg": _("Tajik"),
    "en": _("English"),
    "fr": _("French"),
    "es": _("Spanish"),
    "pt": _("Portuguese"),
    "ru": _("Russian"),
    "so": _("Somali"),
    "am": _("Amharic"),
    "ti": _("Tigrinya"),
    "ha": _("Hausa"),
    "sw": _("Swahili"),
    "my": _("Burmese"),
    "uk": _("Ukrainian"),
    "he": _("Hebrew"),
    "ku": _("Kurdish"),
    "ckb": _("Central Kurdish (Sorani)"),
}


def language_name(tag):
    if not tag:
        return ""
    language = tag.split("-")[0].lower()
    if language in NAMES:
        return NAMES[language]
    info = LANG_INFO.get(tag.lower()) or LANG_INFO.get(language)
    if info and "name" in info:
        return info["name"]
    return tag
