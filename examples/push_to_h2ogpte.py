"""Push Confluence pages and their images into an h2oGPTe collection, with the real client.

Runs offline against the bundled Confluence emulator and an h2oGPTe stand-in. For your own
servers: H2OGPTE(address=..., api_key=...) and your Confluence credentials.
Needs: pip install 'llama-index-readers-confluence-v2[h2ogpte,emulator]'
"""

from h2ogpte import H2OGPTE

from llama_index_readers_confluence_v2 import ConfluenceCredential
from llama_index_readers_confluence_v2.emulator import Emulator
from llama_index_readers_confluence_v2.emulator.generator import BIG_PAGE_ID
from llama_index_readers_confluence_v2.emulator.h2ogpte import H2OGPTeEmulator
from llama_index_readers_confluence_v2.sinks.h2ogpte import ingest_from_confluence

confluence = Emulator(pages=120)
account = confluence.user()
h2ogpte_server = H2OGPTeEmulator()
with confluence.serve(), h2ogpte_server.serve():
    client = H2OGPTE(address=h2ogpte_server.address, api_key=h2ogpte_server.api_key)
    collection_id = client.create_collection(
        name="Confluence docs", description="Imported from Confluence"
    )
    for run in ("first run", "re-run"):  # the second run finds nothing changed
        report = ingest_from_confluence(
            client,
            collection_id,
            confluence.base_url,
            page_id=[BIG_PAGE_ID],
            credentials=ConfluenceCredential(username=account.email, password=account.api_token),
            include_attachments=True,
            include_children=True,
            metadata={"source_system": "wiki"},
            api_gateway_url=confluence.gateway_url,
        )
        print(f"{run} into h2oGPTe collection {collection_id}: {report.summary()}")
    documents = client.list_documents_in_collection(collection_id, offset=0, limit=100)
    print(f"{len(documents)} documents in the collection")
