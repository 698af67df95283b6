"""A local helper module the fixture notebook imports: its imports count."""
import json

import requests


def fetch(url):
    return json.loads(requests.get(url).text)
