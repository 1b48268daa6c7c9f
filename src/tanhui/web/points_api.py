"""The points API under /api/v1: balances, history, catalogue, vouchers, validation, settlement, issuance.

Residents reach only their own household (another household is 404, as elsewhere in the API);
merchants validate and settle only their own vouchers; operators manage the catalogue and run issuance.
Ledger refusals keep their TigerBeetle-style code in the body: ``{"detail": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import IntegrityError

from tanhui.domain.ids import CommunityId
from tanhui.domain.roles import Role
from tanhui.jobs.issuance import AvoidedSource, baseline_source, issue_period
from tanhui.points import voucher as codes
from tanhui.points.catalogue import Reward, RewardKind
from tanhui.points.errors import PointsError
from tanhui.points.issuance import AvoidedEmissions
from tanhui.points.ledger import AccountKind, Code
from tanhui.points.rules import RuleSet, parse_rules, period_bounds
from tanhui.points.settlement import settlement_csv, settlement_html
from tanhui.settings import Settings
from tanhui.store import catalogue, ledger, registry, vouchers
from tanhui.store.schema import households
from tanhui.store.users import User
from tanhui.web.access import Allow, NotFound

router = APIRouter(prefix="/api/v1", tags=["points"])

MAX_ID = 2**31 - 1  # ids are 32-bit integer columns; a larger number is simply not found (422)
HouseholdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
VoucherPath = Annotated[str, Path(min_length=1, max_length=10, pattern=r"^[0-9a-fA-F]+$")]

Resident = Annotated[User, Depends(Allow(Role.RESIDENT))]
ResidentOrOperator = Annotated[User, Depends(Allow(Role.RESIDENT, Role.OPERATOR))]
Merchant = Annotated[User, Depends(Allow(Role.MERCHANT))]
Operator = Annotated[User, Depends(Allow(Role.OPERATOR))]
Browser = Annotated[User, Depends(Allow(Role.RESIDENT, Role.OPERATOR, Role.MERCHANT))]

_NOT_FOUND = {"reward_not_found", "voucher_not_found"}
_CONFLICT = {
    "exceeds_credits",
    "pending_transfer_already_posted",
    "pending_transfer_already_voided",
    "pending_transfer_expired",
    "out_of_stock",
    "reward_inactive",
    "reward_not_valid_today",
    "exists_with_different_fields",
}
_REFUSALS: dict[int | str, dict[str, object]] = {
    401: {"description": "not signed in"},
    403: {"description": "your role may not do this"},
    404: {"description": "no such household, voucher or reward for you"},
    409: {"description": "refused by a ledger or catalogue rule (code in the body)"},
}


@contextmanager
def _refusals() -> Iterator[None]:
    """Map points errors to HTTP, keeping the rule's code."""
    try:
        yield
    except PointsError as exc:
        status = 404 if exc.code in _NOT_FOUND else 409 if exc.code in _CONFLICT else 422
        raise HTTPException(status, detail={"code": exc.code, "message": exc.message}) from None


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _now(request: Request) -> int:
    return int(request.app.state.clock().timestamp())


def _key(request: Request) -> bytes:
    settings: Settings = request.app.state.settings
    return codes.key_from_secret(settings.secret_key)


def _rules(request: Request) -> RuleSet:
    settings: Settings = request.app.state.settings
    return parse_rules((settings.data_dir / "points" / "rules.toml").read_text(encoding="utf-8"))


def _household(conn: Connection, user: User, household_id: int) -> int:
    """The household if the caller may see it: a resident their own, an operator any of the community."""
    if user.role is Role.RESIDENT and user.household_id != household_id:
        raise NotFound()
    found = conn.execute(
        select(households.c.id).where(
            households.c.id == household_id, households.c.community_id == user.community_id
        )
    ).first()
    if found is None:
        raise NotFound()
    return household_id


class BalanceOut(BaseModel):
    household_id: int
    balance: int = Field(description="posted points owned")
    available: int = Field(description="balance less points held by open vouchers")
    held: int


class TransferOut(BaseModel):
    seq: int
    id: str
    direction: Literal["in", "out"]
    amount: int
    code: str
    kind: Literal["single", "pending", "post", "void"]
    pending_id: str | None
    reference: str
    timestamp: int


class RewardOut(BaseModel):
    id: int
    merchant_id: int
    merchant_zh: str
    merchant_en: str
    kind: RewardKind
    name_zh: str
    name_en: str
    terms_zh: str
    terms_en: str
    price_points: int
    stock: int
    valid_from: date
    valid_until: date
    voucher_ttl_seconds: int
    demo: bool = Field(description="example data, not a real offer")
    active: bool


class VoucherOut(BaseModel):
    id: str = Field(description="voucher id, 10 hex digits")
    code: str
    reward_id: int
    points: int
    state: Literal["open", "redeemed", "cancelled", "expired"]
    created_at: int
    expires_at: int
    resolved_at: int | None
    qr_svg: str | None = None


class RedeemIn(BaseModel):
    reward_id: int = Field(ge=1, le=MAX_ID)


class ValidateIn(BaseModel):
    code: str = Field(min_length=16, max_length=32)


class RewardIn(BaseModel):
    merchant_id: int = Field(ge=1, le=MAX_ID)
    kind: RewardKind
    name_zh: str = Field(min_length=1, max_length=200)
    name_en: str = Field(min_length=1, max_length=200)
    terms_zh: str = ""
    terms_en: str = ""
    price_points: int = Field(gt=0, le=2**62)
    stock: int = Field(ge=0, le=MAX_ID)
    valid_from: date
    valid_until: date
    voucher_ttl_seconds: int | None = Field(default=None, ge=60, le=MAX_ID)
    demo: bool = True


class MerchantIn(BaseModel):
    slug: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$")
    name_zh: str = Field(min_length=1, max_length=200)
    name_en: str = Field(min_length=1, max_length=200)
    demo: bool = True


class AvoidedIn(BaseModel):
    household_id: int = Field(ge=1, le=MAX_ID)
    avoided_g_co2e: int = Field(ge=-(2**62), le=2**62)
    data_quality_ok: bool
    baseline_eligible: bool
    evidence: str = ""


class IssuanceIn(BaseModel):
    period: str = Field(pattern=r"^\d{4}-\d{2}$")
    avoided: list[AvoidedIn] | None = Field(
        default=None, description="verified avoided emissions; default: the baseline store"
    )


class IssuanceOut(BaseModel):
    period: str
    rules: str
    households: int
    awarded: int
    already_issued: int
    points: int
    pool_left: int
    reasons: dict[str, int]


class SettlementLineOut(BaseModel):
    voucher_id: str
    reward_id: int
    reward_zh: str
    reward_en: str
    points: int
    validated_at: int


class SettlementOut(BaseModel):
    merchant_id: int
    period: str
    total_points: int
    lines: list[SettlementLineOut]


def _voucher_out(v: vouchers.Voucher, *, qr: bool = False) -> VoucherOut:
    return VoucherOut(
        id=f"{v.id:010x}",
        code=v.code,
        reward_id=v.reward_id,
        points=v.points,
        state=v.state,
        created_at=v.created_at,
        expires_at=v.expires_at,
        resolved_at=v.resolved_at,
        qr_svg=codes.qr_svg(v.code) if qr else None,
    )


_KIND = {0: "single", 2: "pending", 4: "post", 8: "void"}


@router.get("/households/{household_id}/points", responses=_REFUSALS)
def points_balance(request: Request, household_id: HouseholdPath, user: ResidentOrOperator) -> BalanceOut:
    """A household's points: balance, available and held by open vouchers."""
    with _engine(request).connect() as conn:
        _household(conn, user, household_id)
        account = ledger.find_account(
            conn, CommunityId(user.community_id), AccountKind.HOUSEHOLD, household_id
        )
        if account is None:
            return BalanceOut(household_id=household_id, balance=0, available=0, held=0)
        a = ledger.get_account(conn, account)
    return BalanceOut(
        household_id=household_id, balance=a.balance, available=a.available, held=a.debits_pending
    )


@router.get("/households/{household_id}/points/history", responses=_REFUSALS)
def points_history(
    request: Request,
    household_id: HouseholdPath,
    user: ResidentOrOperator,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="seq of the oldest entry seen")
    ] = None,
) -> list[TransferOut]:
    """Every transfer of a household's points, newest first."""
    with _engine(request).connect() as conn:
        _household(conn, user, household_id)
        account = ledger.find_account(
            conn, CommunityId(user.community_id), AccountKind.HOUSEHOLD, household_id
        )
        entries = [] if account is None else ledger.history(conn, account, limit=limit, before=before)
    return [
        TransferOut(
            seq=e.seq,
            id=e.transfer.id,
            direction=e.direction,
            amount=e.transfer.amount,
            code=Code(e.transfer.code).name.lower(),
            kind=_KIND[e.transfer.flags],
            pending_id=e.transfer.pending_id,
            reference=e.transfer.reference,
            timestamp=e.transfer.timestamp,
        )
        for e in entries
    ]


def _reward_out(r: Reward, names: dict[int, tuple[str, str, str, bool]]) -> RewardOut:
    _, merchant_zh, merchant_en, _ = names.get(r.merchant_id, ("", "", "", True))
    return RewardOut(
        id=r.id,
        merchant_id=r.merchant_id,
        merchant_zh=merchant_zh,
        merchant_en=merchant_en,
        kind=r.kind,
        name_zh=r.name_zh,
        name_en=r.name_en,
        terms_zh=r.terms_zh,
        terms_en=r.terms_en,
        price_points=r.price_points,
        stock=r.stock,
        valid_from=r.valid_from,
        valid_until=r.valid_until,
        voucher_ttl_seconds=r.voucher_ttl_seconds,
        # A reward is demo data when it or its merchant is (shared/docs/baoting.md).
        demo=r.demo or names.get(r.merchant_id, ("", "", "", True))[3],
        active=r.active,
    )


@router.get("/rewards", responses=_REFUSALS)
def list_rewards(
    request: Request,
    user: Browser,
    all_rewards: Annotated[
        bool, Query(alias="all", description="operators: include inactive and past")
    ] = False,
) -> list[RewardOut]:
    """The catalogue in zh and en, with the merchant; residents see what can be redeemed today."""
    today = request.app.state.clock().date()
    community = CommunityId(user.community_id)
    with _engine(request).connect() as conn:
        offered_on = None if all_rewards and user.role is Role.OPERATOR else today
        rewards = catalogue.list_rewards(conn, community, offered_on=offered_on)
        names = catalogue.merchant_names(conn, community)
    return [_reward_out(r, names) for r in rewards]


@router.post("/rewards", status_code=201, responses=_REFUSALS)
def create_reward(request: Request, body: RewardIn, user: Operator) -> RewardOut:
    """Add a reward to the catalogue (operators)."""
    community = CommunityId(user.community_id)
    ttl = body.voucher_ttl_seconds or _rules(request).voucher_ttl_seconds
    reward = Reward(
        0,
        body.merchant_id,
        body.kind,
        body.name_zh,
        body.name_en,
        body.terms_zh,
        body.terms_en,
        body.price_points,
        body.stock,
        body.valid_from,
        body.valid_until,
        ttl,
        body.demo,
        True,
    )
    with _refusals(), _engine(request).begin() as conn:
        try:
            reward_id = catalogue.create_reward(conn, community, reward, now=_now(request))
        except LookupError:
            raise NotFound() from None
        created = catalogue.get_reward(conn, community, reward_id)
        names = catalogue.merchant_names(conn, community)
    assert created is not None  # noqa: S101 - inserted just above
    return _reward_out(created, names)


@router.post("/merchants", status_code=201, responses=_REFUSALS)
def create_merchant(request: Request, body: MerchantIn, user: Operator) -> dict[str, int]:
    """Register a partner merchant (operators); its staff are linked with ``tanhui merchants add``."""
    with _engine(request).begin() as conn:
        if catalogue.find_merchant(conn, CommunityId(user.community_id), body.slug) is not None:
            raise HTTPException(409, detail={"code": "exists", "message": f"merchant {body.slug} exists"})
        merchant_id = catalogue.create_merchant(
            conn,
            CommunityId(user.community_id),
            slug=body.slug,
            name_zh=body.name_zh,
            name_en=body.name_en,
            demo=body.demo,
            now=_now(request),
        )
    return {"id": merchant_id}


@router.get("/households/{household_id}/vouchers", responses=_REFUSALS)
def household_vouchers(
    request: Request, household_id: HouseholdPath, user: ResidentOrOperator
) -> list[VoucherOut]:
    """A household's vouchers, newest first, with their state."""
    with _engine(request).connect() as conn:
        _household(conn, user, household_id)
        found = vouchers.household_vouchers(conn, household_id, _key(request))
    return [_voucher_out(v) for v in found]


@router.post("/households/{household_id}/vouchers", status_code=201, responses=_REFUSALS)
def redeem(request: Request, household_id: HouseholdPath, body: RedeemIn, user: Resident) -> VoucherOut:
    """Redeem points for a reward: the points are held and a voucher (code and QR) issued."""
    with _refusals():
        issued = redeem_reward(
            _engine(request),
            user,
            household_id,
            body.reward_id,
            key=_key(request),
            now=_now(request),
            today=request.app.state.clock().date(),
        )
    if issued is None:
        raise HTTPException(503, detail={"code": "voucher_id_collision", "message": "try again"})
    return _voucher_out(issued, qr=True)


def redeem_reward(
    engine: Engine, user: User, household_id: int, reward_id: int, *, key: bytes, now: int, today: date
) -> vouchers.Voucher | None:
    """Hold the reward's points and issue a voucher (shared by this API and the resident's pages).

    Raises PointsError for a ledger or catalogue refusal and NotFound for another household; None when a
    fresh random id collided three times in a row.
    """
    for _attempt in range(3):  # a random 40-bit id collides with an existing voucher very rarely
        voucher_id = secrets.randbits(codes.ID_BITS) or 1
        try:
            with engine.begin() as conn:
                _household(conn, user, household_id)
                return vouchers.redeem(
                    conn,
                    CommunityId(user.community_id),
                    household_id=household_id,
                    reward_id=reward_id,
                    voucher_id=voucher_id,
                    key=key,
                    now=now,
                    today=today,
                )
        except IntegrityError:
            continue
    return None


@router.get(
    "/households/{household_id}/vouchers/{voucher_id}/qr.png",
    responses={**_REFUSALS, 200: {"content": {"image/png": {}}}},
    response_class=Response,
)
def voucher_qr(
    request: Request, household_id: HouseholdPath, voucher_id: VoucherPath, user: ResidentOrOperator
) -> Response:
    """The voucher's QR image (PNG), to show at the merchant's counter."""
    with _engine(request).connect() as conn:
        _household(conn, user, household_id)
        found = vouchers.get_voucher(conn, _voucher_id(voucher_id), _key(request))
    if found is None or found.household_id != household_id:
        raise NotFound()
    return Response(codes.qr_png(found.code), media_type="image/png")


def _voucher_id(text: str) -> int:
    try:
        return int(text, 16)
    except ValueError:
        raise NotFound() from None


@router.post("/households/{household_id}/vouchers/{voucher_id}/cancel", responses=_REFUSALS)
def cancel(
    request: Request, household_id: HouseholdPath, voucher_id: VoucherPath, user: Resident
) -> VoucherOut:
    """Cancel an open voucher: the held points return to the household."""
    with _refusals(), _engine(request).begin() as conn:
        _household(conn, user, household_id)
        done = vouchers.cancel(
            conn,
            CommunityId(user.community_id),
            household_id=household_id,
            voucher_id=_voucher_id(voucher_id),
            key=_key(request),
            now=_now(request),
        )
    return _voucher_out(done)


def _merchant_id(conn: Connection, user: User) -> int:
    found = catalogue.merchant_of(conn, user.id)
    if found is None:
        raise HTTPException(
            403, detail={"code": "not_merchant_staff", "message": "you validate for no merchant"}
        )
    return found


@router.post("/merchant/vouchers/validate", responses=_REFUSALS)
def validate(
    request: Request,
    body: ValidateIn,
    user: Merchant,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> VoucherOut:
    """Accept a voucher (typed or scanned code): its points go to the merchant, once.

    Send an ``Idempotency-Key`` header to retry safely: the same key repeats the same success, while
    any other validation of a redeemed voucher gets 409 ``pending_transfer_already_posted``.
    """
    with _engine(request).connect() as conn:
        merchant_id = _merchant_id(conn, user)
    with _refusals():
        done = validate_code(
            _engine(request),
            user,
            merchant_id,
            body.code,
            attempt=idempotency_key or secrets.token_hex(16),
            key=_key(request),
            now=_now(request),
        )
    return _voucher_out(done)


def validate_code(
    engine: Engine, user: User, merchant_id: int, code: str, *, attempt: str, key: bytes, now: int
) -> vouchers.Voucher:
    """Accept a voucher for ``merchant_id`` (shared by this API and the merchant's page).

    Raises PointsError when the code is not this merchant's, unknown, expired or already used.
    """
    with engine.begin() as conn:
        return vouchers.validate(
            conn,
            CommunityId(user.community_id),
            merchant_id=merchant_id,
            code=code,
            attempt=attempt,
            key=key,
            now=now,
        )


@router.get(
    "/merchant/settlement",
    response_model=SettlementOut,
    responses={**_REFUSALS, 200: {"content": {"text/csv": {}, "application/pdf": {}}}},
)
def settlement(
    request: Request,
    user: Merchant,
    period: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$")],
    fmt: Annotated[Literal["json", "csv", "pdf"], Query(alias="format")] = "json",
) -> SettlementOut | Response:
    """The merchant's settlement for a month: every voucher validated, and the points owed."""
    with _refusals():
        since, until = period_bounds(period)
    with _engine(request).connect() as conn:
        merchant_id = _merchant_id(conn, user)
        lines = vouchers.settlement(conn, merchant_id, since=since, until=until)
        _, name_zh, name_en, _ = catalogue.merchant_names(conn, CommunityId(user.community_id))[merchant_id]
    if fmt == "pdf":
        from tanhui.reports.rendering import html_to_pdf  # noqa: PLC0415 - WeasyPrint loads slowly; PDF is rare

        return Response(
            html_to_pdf(settlement_html(name_zh, name_en, period, lines)),
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="settlement-{merchant_id}-{period}.pdf"'},
        )
    if fmt == "csv":
        return Response(
            settlement_csv(lines),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="settlement-{merchant_id}-{period}.csv"'},
        )
    return SettlementOut(
        merchant_id=merchant_id,
        period=period,
        total_points=sum(line.points for line in lines),
        lines=[
            SettlementLineOut(
                voucher_id=f"{line.voucher_id:010x}",
                reward_id=line.reward_id,
                reward_zh=line.reward_name_zh,
                reward_en=line.reward_name_en,
                points=line.points,
                validated_at=line.validated_at,
            )
            for line in lines
        ],
    )


def _explicit_source(items: list[AvoidedIn], period: str) -> AvoidedSource:
    figures = {i.household_id: i for i in items}

    def source(_conn: Connection, household_id: int, _first: date, _last: date) -> AvoidedEmissions | None:
        found = figures.get(household_id)
        if found is None:
            return None
        return AvoidedEmissions(
            household_id,
            period,
            found.avoided_g_co2e,
            found.data_quality_ok,
            found.baseline_eligible,
            found.evidence,
        )

    return source


@router.post("/points/issuance", responses=_REFUSALS)
def run_issuance(request: Request, body: IssuanceIn, user: Operator) -> IssuanceOut:
    """Run the month's issuance for the operator's community; running it again pays nobody twice."""
    rules = _rules(request)
    community = CommunityId(user.community_id)
    with _refusals(), _engine(request).begin() as conn:
        if body.avoided is not None:
            source = _explicit_source(body.avoided, body.period)
        else:
            source = baseline_source(registry.get_community(conn, community).factor_set_id)
        summary = issue_period(conn, community, body.period, rules, source, now=_now(request))
    return IssuanceOut(**{name: getattr(summary, name) for name in IssuanceOut.model_fields})
