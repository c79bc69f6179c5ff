"""Steps that several browser tests take the same way (Playwright pages of the live site)."""

CITIZEN = {"register_number": "чб88051234", "last_name": "Дорж", "first_name": "Сараа", "phone": "8811 2233"}


def press(page, action):
    """Press one of the step's buttons (Continue / Back / Save) and wait for the page it leads to."""
    with page.expect_navigation() as navigation:
        page.locator(f'form.application-form button[name="action"][value="{action}"]').click()
    return navigation.value


def enter_citizen_identity(page, code):
    """The operator's first page for a citizen present in person, then step 1 of the service's form."""
    for field, value in CITIZEN.items():
        page.locator(f"#id_{field}").fill(value)
    with page.expect_navigation():
        page.locator("main form button.button").click()
    page.wait_for_url(f"**/apply/{code}/step/1/")


def fill_general_form(page, code, request):
    """Steps 1 and 2 of the general application form (address; request and consent), up to the review."""
    page.locator("#id_address_0").select_option("65")
    page.locator("#id_address_1").select_option("6504")
    press(page, "next")
    page.wait_for_url(f"**/apply/{code}/step/2/")
    page.locator("#id_request").fill(request)
    page.locator("#id_consent").check()
    press(page, "next")
    page.wait_for_url(f"**/apply/{code}/review/")
