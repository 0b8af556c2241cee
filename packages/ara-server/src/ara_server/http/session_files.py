"""Session files, terminal and heartbeat routes (`/session/files*`, `/session/terminal/exec`,
`/session/heartbeat`), in the caller's session workspace (user API key)."""

from __future__ import annotations

from urllib.parse import quote

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import ApiProblem
from ..services import Services
from ..services.session_files import FilesWrite, Heartbeat, SessionFiles, TerminalExec
from .auth import Auth
from .body import decode, decode_query, json_body
from .schemas import FilesQuery

__all__ = ["MAX_UPLOAD_BYTES", "routes"]

#: Largest upload, in bytes (the whole multipart body).
MAX_UPLOAD_BYTES = 64 * 1024 * 1024


def routes(services: Services, auth: Auth, files: SessionFiles) -> list[Route]:
    """The session file, terminal and heartbeat routes."""
    settings = services.settings

    async def body_of(request: Request, limit: int | None = None) -> dict[str, object]:
        return await json_body(
            request, limit=limit or settings.max_body_bytes, max_depth=settings.max_json_depth
        )

    def path_param(request: Request, *, required: bool) -> str:
        path = decode_query(request, FilesQuery).path
        if required and not path:
            raise ApiProblem(422, "invalid_query", "at `path`: the file path is required")
        return path

    async def list_files(request: Request) -> Response:
        account = await auth.account(request)
        return JSONResponse(await files.list_dir(account, path_param(request, required=False) or None))

    async def read_file(request: Request) -> Response:
        account = await auth.account(request)
        return JSONResponse(await files.read(account, path_param(request, required=True)))

    async def write_files(request: Request) -> Response:
        account = await auth.account(request)
        body = decode(await body_of(request, settings.max_run_bytes), FilesWrite)
        return JSONResponse(await files.write(account, body))

    async def upload(request: Request) -> Response:
        account = await auth.account(request)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
            raise ApiProblem(413, "body_too_large", f"uploads are limited to {MAX_UPLOAD_BYTES} bytes")
        if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
            raise ApiProblem(
                422, "invalid_body", "upload needs a multipart/form-data body with a `file` part"
            )
        try:
            async with request.form(max_files=1, max_fields=10, max_part_size=MAX_UPLOAD_BYTES) as form:
                part = form.get("file")
                path = form.get("path") or ""
                if not isinstance(part, UploadFile):
                    raise ApiProblem(422, "invalid_body", "at `file`: the multipart body has no file part")
                if not isinstance(path, str):
                    raise ApiProblem(422, "invalid_body", "at `path`: must be a text field")
                data = await part.read(MAX_UPLOAD_BYTES + 1)
                if len(data) > MAX_UPLOAD_BYTES:
                    raise ApiProblem(
                        413, "body_too_large", f"uploads are limited to {MAX_UPLOAD_BYTES} bytes"
                    )
                done = await files.upload(account, path, part.filename or "", data)
        except ApiProblem:
            raise
        except Exception as exc:  # malformed multipart bodies raise parser-specific errors
            raise ApiProblem(400, "invalid_body", f"malformed multipart body: {exc}") from None
        return JSONResponse(done, status_code=201)

    async def download(request: Request) -> Response:
        account = await auth.account(request)
        data, name = await files.download(account, path_param(request, required=True))
        plain = name.isascii() and '"' not in name and "\\" not in name
        disposition = (
            f'attachment; filename="{name}"' if plain else f"attachment; filename*=utf-8''{quote(name)}"
        )
        return Response(
            data, media_type="application/octet-stream", headers={"Content-Disposition": disposition}
        )

    async def terminal_exec(request: Request) -> Response:
        account = await auth.account(request)
        body = decode(await body_of(request), TerminalExec)
        return JSONResponse(await files.run(account, body))

    async def heartbeat(request: Request) -> Response:
        account = await auth.account(request)
        decode(await body_of(request), Heartbeat)
        return JSONResponse(await files.heartbeat(account))

    return [
        Route("/session/files", list_files, methods=["GET"]),
        Route("/session/files/read", read_file, methods=["GET"]),
        Route("/session/files/write", write_files, methods=["POST"]),
        Route("/session/files/upload", upload, methods=["POST"]),
        Route("/session/files/download", download, methods=["GET"]),
        Route("/session/terminal/exec", terminal_exec, methods=["POST"]),
        Route("/session/heartbeat", heartbeat, methods=["POST"]),
    ]
