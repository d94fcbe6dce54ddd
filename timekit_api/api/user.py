"""User tag: accounts, sign-in and sign-out. A user record is only its owner's business."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import current_app, jsonify
from flask.views import MethodView
from flask_smorest import abort

from .. import schemas
from ..extensions import Blueprint, db
from ..models import User
from ..security import (current_principal, hash_password, issue_token, multi_auth,
                        require_owner, revoke, verify_login)
from .pet import api_response

blp = Blueprint("user", __name__, url_prefix="/user", tag="User")

USERNAME_PATTERN = re.compile(schemas.USERNAME.regex.pattern)


def ensure_free(users: list[dict], *, except_id: int | None = None) -> None:
    """409 when a username, email or id is taken (by the database or earlier in the batch)."""
    for field in ("username", "email", "id"):
        values = [u[field] for u in users if u.get(field) is not None]
        if field == "id":
            values = [v for v in values if v >= 1]
        if len(set(values)) != len(values):
            abort(409, message=f"The same {field} appears twice in the request")
        if not values:
            continue
        column = getattr(User, field)
        query = sa.select(column).where(column.in_(values))
        if except_id is not None:
            query = query.where(User.id != except_id)
        taken = db.session.scalars(query.limit(1)).first()
        if taken is not None:
            abort(409, message=f"{field} {taken!r} is already taken")


def new_user(data: dict) -> User:
    data = dict(data)
    user_id = data.pop("id", None)
    user = User(password_hash=hash_password(data.pop("password")), **data)
    if user_id is not None and user_id >= 1:
        user.id = user_id
    return user


def create_users(batch: list[dict]) -> list[User]:
    """All or nothing: one transaction for the whole batch."""
    ensure_free(batch)
    users = [new_user(data) for data in batch]
    db.session.add_all(users)
    db.session.commit()
    return users


def get_user_or_404(username: str) -> User:
    if not USERNAME_PATTERN.match(username):
        abort(400, message="Invalid username supplied")
    user = db.session.scalars(sa.select(User).where(User.username == username)).first()
    if user is None:
        abort(404, message="User not found")
    return user


@blp.route("")
class Users(MethodView):
    @multi_auth.login_required(optional=True)
    @blp.arguments(schemas.UserSchema, description="Created user object")
    @blp.response(200, schemas.UserResponseSchema, description="successful operation")
    @blp.fails_with(_400="Invalid user supplied", _401="Sign-up is disabled: sign in first",
                    _409="Username or email already taken", _415="Body is not JSON")
    def post(self, data):
        """Create user

        Open sign-up unless the service disables it (`SIGNUP_ENABLED`); then only a signed-in
        user can create users.
        """
        if not current_app.config["SIGNUP_ENABLED"] and current_principal() is None:
            abort(401, message="Sign-up is disabled: sign in to create users",
                  headers={"WWW-Authenticate": 'Bearer realm="Timekit API"'})
        return create_users([data])[0]


def batch_view(summary: str):
    @blp.login_required()
    @blp.arguments(schemas.UserSchema(many=True), description="List of user object")
    @blp.response(200, schemas.UserResponseSchema(many=True), description="successful operation")
    @blp.fails_with(_400="Invalid user supplied", _409="Username or email already taken",
                    _415="Body is not JSON")
    def post(self, batch):
        return create_users(batch)

    post.__doc__ = summary + "\n\nAll or nothing: one invalid or taken user creates none."
    return post


@blp.route("/createWithArray")
class UsersWithArray(MethodView):
    post = batch_view("Creates list of users with given input array")


@blp.route("/createWithList")
class UsersWithList(MethodView):
    post = batch_view("Creates list of users with given input array")


@blp.route("/login")
class Login(MethodView):
    @blp.arguments(schemas.LoginQuerySchema, location="query")
    @blp.response(200, {"type": "string"}, description="successful operation", headers={
        "X-Rate-Limit": {"description": "calls per hour allowed by the user",
                         "schema": {"type": "integer", "format": "int32"}},
        "X-Expires-After": {"description": "date in UTC when token expires",
                            "schema": {"type": "string", "format": "date-time"}},
    })
    @blp.fails_with(_400="Invalid username/password supplied",
                    _429="Too many failed attempts; see Retry-After")
    def get(self, args):
        """Logs user into the system"""
        user = verify_login(args["username"], args["password"])
        if user is None:
            abort(400, message="Invalid username/password supplied")
        token, row = issue_token(user, "login")
        db.session.commit()
        response = jsonify(token)
        response.headers["X-Rate-Limit"] = str(current_app.config["RATE_LIMIT_PER_HOUR"])
        response.headers["X-Expires-After"] = row.expires_at.isoformat().replace("+00:00", "Z")
        response.headers["Cache-Control"] = "no-store"
        return response


@blp.route("/logout")
class Logout(MethodView):
    @blp.login_required()
    @blp.response(200, schemas.ApiResponseSchema, description="successful operation")
    def get(self):
        """Logs out current logged in user session

        Revokes the token the request was made with.
        """
        revoke(current_principal())
        db.session.commit()
        return api_response("ok")


@blp.route("/<username>")
class UserByName(MethodView):
    @blp.login_required()
    @blp.response(200, schemas.UserResponseSchema, description="successful operation")
    @blp.fails_with(_400="Invalid username supplied", _403="Another user's record",
                    _404="User not found")
    def get(self, username):
        """Get user by user name

        Users can read only their own record.
        """
        user = get_user_or_404(username)
        require_owner("User", user.id)
        return user

    @blp.login_required()
    @blp.arguments(schemas.UserUpdateSchema, description="Updated user object")
    @blp.response(200, schemas.UserResponseSchema, description="successful operation")
    @blp.fails_with(_400="Invalid user supplied", _403="Another user's record",
                    _404="User not found", _409="Username or email already taken",
                    _415="Body is not JSON")
    def put(self, data, username):
        """Updated user

        This can only be done by the logged in user. Leaving `password` out keeps it.
        """
        user = get_user_or_404(username)
        require_owner("User", user.id)
        data.pop("id", None)  # ids never change
        ensure_free([data], except_id=user.id)
        if "password" in data:
            user.password_hash = hash_password(data.pop("password"))
        for field, value in data.items():
            setattr(user, field, value)
        db.session.commit()
        return user

    @blp.login_required()
    @blp.response(200, schemas.ApiResponseSchema, description="successful operation")
    @blp.fails_with(_400="Invalid username supplied", _403="Another user's record",
                    _404="User not found")
    def delete(self, username):
        """Delete user

        This can only be done by the logged in user. Their tokens and orders go with them;
        their pets stay in the store without an owner.
        """
        user = get_user_or_404(username)
        require_owner("User", user.id)
        db.session.delete(user)
        db.session.commit()
        return api_response(username)
