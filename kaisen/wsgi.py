import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaisen.settings")
# Forwarded headers count only from the proxies of KAISEN_TRUSTED_PROXIES (kaisen.core.proxy).
from kaisen.core.proxy import wrap

application = wrap(get_wsgi_application())
