"""Print the manifest JSON Schema: `python -m ara_core.schema > docs/manifest.schema.json`."""

import json

from ._models import manifest_json_schema

if __name__ == "__main__":
    print(json.dumps(manifest_json_schema(), indent=2, sort_keys=True))
