"""The API's blueprints, one per spec tag (pets and bookings share "Booking"), in the order
the docs show them."""

from . import auth, bookings, pet, store, user, webhooks

BLUEPRINTS = (auth.blp, pet.blp, bookings.blp, webhooks.blp, store.blp, user.blp)
