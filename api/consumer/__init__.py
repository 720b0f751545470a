"""The shopper's side of the API: the consumer page, the claim page, the error and
"How to check a product" pages, the small pages answering the forms, and their words in
English and Simplified Chinese.

- `api.consumer.page`: the unit view rendered as the verification page, assembled from
  `headline` (the top, chosen for each reader), `reasons`, `facts` and `timeline`;
- `api.consumer.claim_page`: the claim page of the code inside the package, and a
  refused claim in the shopper's words;
- `api.consumer.error_page`: error pages for browsers, the "How to check" page;
- `api.consumer.page_signals`: the claim and report forms, the notices answering them,
  the words of counterfeit-signal reasons, and the localised reasons of the JSON view;
- `api.consumer.places`: ISO 3166 places as names, bidi controls removed;
- `api.consumer.i18n` (with `i18n_signals`, `i18n_pages`): the messages, dates and
  times, and the language choice;
- `api.consumer.environment`: the one Jinja environment over ``templates/``.

Everything here presents what it is given: no I/O beyond reading the templates, no clock.
The routers (`api.routers.resolver`, `home`, `units`, `reports`) fetch, record and choose.
"""
